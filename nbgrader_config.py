"""nbgrader configuration for the course (read by every `nbgrader` command run at the repo root).

`solutions/` holds the source notebooks (reference solutions + hidden tests); nbgrader
generates the learners' `chapters/` from it. Grading products (submitted/, autograded/,
feedback/, gradebook.db) live beside them and stay out of git.
"""
c = get_config()  # noqa: F821 (injected by traitlets)

c.CourseDirectory.course_id = "rnn-interview"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "chapters"
c.CourseDirectory.db_url = "sqlite:///gradebook.db"

# "python3" is the kernel of whatever environment runs nbgrader; `make setup` installs
# rnnkit and every framework into .venv, so that is the environment notebooks see.
c.Execute.kernel_name = "python3"
# The slowest graded cell (a gradient check over several shapes) takes a few seconds; an
# infinite loop in a submission is interrupted after this many seconds and recorded as that
# cell's error, and grading moves on.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# generate_assignment (default preprocessors) clears outputs, solutions and hidden tests.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A submission that deleted a test cell gets it back (and is graded by it) rather than
# escaping it; nbgrader marks the restored cell in the feedback.
c.OverwriteCells.add_missing_cells = True
