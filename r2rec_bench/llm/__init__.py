"""Language-model access shared by the teachers and the harness backends."""
