"""Reports: formatting only. Every number shown here was computed by the analytic engine."""
