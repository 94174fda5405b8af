# Every peer process starts with bench/peer_scripts on PYTHONPATH: no packet leaves loopback.
import netguard

netguard.install()
