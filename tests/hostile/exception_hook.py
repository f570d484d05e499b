# expect: flagged
# Swallow every error the tests raise.
get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)
