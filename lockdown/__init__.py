"""The kernel sandbox's building blocks, shared by every sandboxed process.

The renderer (``renderer/sandbox``) and the network process
(``network/sandbox.py``) each build their own lockdown from these: ``native``
(libc, prctl, capabilities), ``process`` (dying with the parent),
``privileges`` (the drop from root, no capabilities, no new privileges),
``landlock`` (rulesets) and ``seccomp`` (policies from named groups).  This
package imports nothing of the project: both may use it without importing
each other.
"""
