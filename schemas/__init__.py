"""FlowSense data contracts. Imports nothing of ours."""
