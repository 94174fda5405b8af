"""Scripts that run inside the peers' own venvs (bench/.venvs/<peer>): standard library plus the peer."""
