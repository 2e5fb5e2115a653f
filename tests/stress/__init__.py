"""Stress, fault, crash, load and valgrind runs of ebs-csi-driver against ebs-ec2-sim
(issue 8, items 2-5). Shared code only: the scenarios live in scenarios.py and are
run reduced by tests/integration/test_stress_*.py / test_valgrind.py (make test)
and in full by tests/stress/soak.py (make soak). See README.md here."""
