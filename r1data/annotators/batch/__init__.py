"""Batch mode: a step's requests through the provider's batch API, at about half the price.

A profile with ``batch: true`` (OpenAI's Batch API, Gemini's batch mode) has its requests
asked before the build's rows are made (:mod:`.prefetch`), in batches recorded in the build's
journal (:mod:`.journal`) so that a killed build polls what it paid for and never sends it
twice (:mod:`.service`); the answers land in the response cache that direct calls use, and
the build then reads them there. Provider adapters: :mod:`.openai_batch`, :mod:`.gemini_batch`.
Users' guide: docs/annotators.md ("Batch mode").
"""
