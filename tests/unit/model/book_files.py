"""The book's manifests that a current cluster accepts (shared by the schema and validation tests)."""

from pathlib import Path

BOOK = Path(__file__).parents[3] / "labs" / "manifests" / "book"
BOOK_FILES = [
    "deployment.yml",
    "service.yml",
    "service-with-nodeport.yml",
    "service-with-loadbalancer.yml",
    "ingress.yml",
]
