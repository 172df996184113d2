"""POP/IMAP migrations: the CSV formats (``csv_formats``), source hosts (``hosts``), the
planner of endpoints and batches (``batches``), the tenant reads (``reads``) and batch
status and reports (``status``)."""
