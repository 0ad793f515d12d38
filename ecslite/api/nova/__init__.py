"""The OpenStack-compatible face of the API: Nova's compute v2.1, Glance's image v2 and
Keystone's discovery documents, so the unchanged ``openstack`` CLI and openstacksdk work.

Everything here translates; the rules live in the same services the ECS routes call."""
