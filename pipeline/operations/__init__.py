"""Running the pipeline in an office for years: backups that restore (``backup``) and one
screen of the machine's health (``doctor``)."""
