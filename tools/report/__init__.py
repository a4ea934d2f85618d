"""Reports: a document model (document) rendered to Markdown and self-contained HTML (html); the
run's report (run_report) and a suite's (suite) are built from its blocks; plots draws the figures.
"""
