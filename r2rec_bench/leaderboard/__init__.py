"""The leaderboard (DESIGN §11): submissions verified by recomputation, rendered into a static
site. ``submission`` reads a submission without trusting it, ``verify`` recomputes its figures,
``submit`` files it, ``site`` renders the verified ones."""
