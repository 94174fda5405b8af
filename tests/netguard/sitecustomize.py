# Loaded by every Python subprocess the tests start (PYTHONPATH points here): no packet leaves loopback.
import netguard

netguard.install()
