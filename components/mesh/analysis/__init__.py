"""What Istio does with the objects together: effective modes, authorization decisions, what each caller sends to
each port and what arrives, and the findings over all of it."""
