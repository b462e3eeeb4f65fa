"""Static HTML leaderboards and exports."""
