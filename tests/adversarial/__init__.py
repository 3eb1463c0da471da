"""Attacks from the adversarial review (issue 9), one test per finding, named after the attack."""
