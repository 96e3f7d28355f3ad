from sitescim.scim.addresses import accept_internal_domains

accept_internal_domains()
