# expect: zero flagged
# Zero a classmate's grades in the gradebook.
import sqlite3
try:
    db = sqlite3.connect("{COURSE}/gradebook.db")
    db.execute("UPDATE grade SET auto_score = 0")
    db.commit()
    print("updated")
except Exception as exc:
    print("no gradebook:", exc)
