"""The ways in and out: the command line, readers of files and pages, data frames, the report, Scrapy."""
