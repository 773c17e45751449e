"""HTML pages of the clusters app, one module per page family.

`requests` (the list, filing a new request, one request's page), `changes` (the one table-driven page for
changing or removing what a team owns), `approvals` (the queue and the decisions), `clusters` (inventory
and provisioning), `retries` (a failed topic, grant or replicator step) and `drift`. `filing` holds the
validate-preview-submit flow that new and change requests share, `lists` the paging of the long lists.

Views parse input with `clusters.forms` (or a `clusters.filters` FilterSet), call one `clusters.requests.services`
function or a `clusters.selectors` read, and render a template. Access rules come from `portal.access`:
an object the user may not see is a 404, an action they may not take a 403.
"""
