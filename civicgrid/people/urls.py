"""Pages of the people app: who looked at a resident's data, a resident's rights."""

urlpatterns: list = []
