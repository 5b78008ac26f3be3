"""Reports: formatting only. Every number shown here was computed elsewhere, by the analytic engine
or measured on the built module; number and percent texts come from ``units``."""
