"""The MIRA agents as actors, and the OrchestratorAgent facade."""
