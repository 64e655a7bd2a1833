"""Rex-AI learning platform: the Dagster asset graph and its plain, tested functions."""
