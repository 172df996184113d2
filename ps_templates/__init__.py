"""Built-in PowerShell templates, shipped as package data of ``toolkit.ps_templates``.

Task templates live in service folders (``exchange/``, ``graph/``). ``_connect/`` holds the
steps psbridge runs itself to connect or check a session (with metadata naming the service
they connect and where each parameter's value comes from); ``_include/`` holds fragments
only other templates include (no metadata). Neither is listed or run as a task.
"""
