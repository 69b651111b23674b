"""Tests of the expected-recovery trajectory fit, its bands and the alarm-quality study."""
