"""Built-in PowerShell templates, shipped as package data of ``toolkit.ps_templates``."""
