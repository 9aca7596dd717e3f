"""Tasks: data generators and readers. Built-in tasks are registered in ``catalog``."""
