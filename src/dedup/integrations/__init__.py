"""Integrations with crawling frameworks (each needs its extra)."""
