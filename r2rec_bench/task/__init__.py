"""The benchmark's contract, beneath every stage (DESIGN §2): what a protocol order, a prompt,
an answer, a sample and a result are. It imports no stage."""
