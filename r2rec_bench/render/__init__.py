"""Render: protocol output (and later, traces) into a Hub-layout dataset directory."""
