"""The demo: the main job on bundled sources, served on 127.0.0.1, with no internet
(:func:`newsmirror.demo.run.run_demo`).

``site/`` was made from real posts of the old mirrors by
``scripts/feeds_from_posts.py``: four feeds with full articles (the 大纪元 one
carries the seed article, so the export holds a post byte-identical to the
seed), and a feed of teasers whose full articles (one of them GBK-encoded, with
navigation, share bars and lazy-loaded images) are on its pages. Every URL in it
is on ``demo.newsmirror.invalid``, which the demo routes to its local server, so
URLs stay the same from run to run.
"""
