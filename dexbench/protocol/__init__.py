"""The benchmark protocol: tasks, versioned test manifests, submissions."""
