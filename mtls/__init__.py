"""gke-mtls pure logic (settings, rules, analysis) and the offline command-line tool."""
