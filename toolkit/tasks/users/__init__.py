"""Users: bulk activation (``activation``, planned by ``activation_plan`` with ``skus`` and
``countries``) and licence changes for many users (``licences``)."""
