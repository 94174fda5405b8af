"""The shared vocabulary of newsarchive: the leaf package every other one may import.

It holds what spiders, pipelines, the archive library and the CLI all need to agree on: the item and
article types (`core.items`), the topic configuration model (`core.config`), the JSON Schema generated
from the article type (`core.schema`) and the outlet base-URL override (`core.baseurls`). It imports
nothing of ours and nothing of Scrapy (import-linter holds it to that), so any layer can use it without
pulling in another.
"""
