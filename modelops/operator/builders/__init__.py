"""Pure builders of child manifests: spec in, dict out. No API calls, no clock, no randomness."""
