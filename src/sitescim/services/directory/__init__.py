"""Read-only views of what was provisioned, for the web UI's People and Groups pages.

Lists are keyset-paginated in the order of an indexed key (``userName``, a
group's display name) and searched by prefix on indexed keys only, so a page
costs the same on a site of ten users as on one of a hundred thousand. Only
the site's Promasters see them: provisioning is their concern, and the list
holds everyone's e-mail address.

``views`` holds what the pages show, ``keyset`` the paging both lists share,
``people`` and ``groups`` the lists and details, ``profile`` every page's header.
The audit log's page is services/activity.py.
"""

from __future__ import annotations

from sitescim.services.directory.groups import get_group_detail, list_group_rows
from sitescim.services.directory.people import get_person, list_people
from sitescim.services.directory.profile import profile_of

__all__ = ["get_group_detail", "get_person", "list_group_rows", "list_people", "profile_of"]
