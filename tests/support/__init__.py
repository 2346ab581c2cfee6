"""Helpers shared by the test suite (real servers, no mocks)."""
