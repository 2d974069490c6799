"""JupyterLab's settings for `./kit lab` (it passes this file with --config).

The login token arrives in the JUPYTER_TOKEN environment variable, because a command line
(`--IdentityProvider.token=...`) is readable by every local user through `ps`, while a
process's environment is readable only by its owner. It is set here and removed from the
server's environment at once, so the kernels and terminals the server starts — they copy
its environment — never hold it (a notebook printing its environment cannot leak it).
Without the variable, Jupyter makes up a token of its own, as usual.
"""

import os

c = get_config()  # noqa: F821 (Jupyter defines get_config while loading a config file)

token = os.environ.pop("JUPYTER_TOKEN", None)
if token:
    c.IdentityProvider.token = token
