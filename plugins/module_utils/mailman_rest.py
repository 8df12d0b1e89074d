# Copyright (c) mailops.mailman contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The one Mailman 3 REST client shared by the mailops.mailman modules.

It wraps mailmanclient so that every request (including the ones made by
mailmanclient's own objects, which share the client's connection) has a
timeout and fails the module with a message that says what was tried and
where to look, instead of a traceback.
"""

from __future__ import annotations

import sys
import traceback
from urllib.error import HTTPError
from urllib.parse import urlsplit

from ansible_collections.mailops.mailman.plugins.module_utils import mailman_cfg
from ansible_collections.mailops.mailman.plugins.module_utils.mailman_address import is_list_address

try:
    from mailmanclient import Client
    from mailmanclient.restbase.connection import Connection, MailmanConnectionError
    HAS_MAILMANCLIENT = True
    MAILMANCLIENT_IMPORT_ERROR = None
except ImportError:
    HAS_MAILMANCLIENT = False
    MAILMANCLIENT_IMPORT_ERROR = traceback.format_exc()
    # Placeholders so this file still imports and the module can explain.
    Client = Connection = object

    class MailmanConnectionError(Exception):
        pass


DEFAULT_CONFIG_FILE = mailman_cfg.DEFAULT_PATH
MAILMAN_LOG = '/var/log/mailman3/mailman.log'

# A REST request that may take longer than this is a hung server, not a slow one.
MAX_TIMEOUT = 3600


def mailman_rest_argument_spec():
    """Connection options, documented in doc_fragments/mailman_rest.py."""
    return dict(
        api_url=dict(type='str'),
        api_user=dict(type='str'),
        api_password=dict(type='str', no_log=True),
        config_file=dict(type='path', default=DEFAULT_CONFIG_FILE),
        timeout=dict(type='int', default=30),
    )


def check_list_address(module, address, option='address'):
    """Fail unless address is listname@mail.host (mailman_address's rule); return it lowercased.

    Mailman stores list names lowercased, so comparing lowercased is what
    keeps a second run from seeing a difference.
    """
    if not is_list_address(address):
        module.fail_json(msg='%s=%r is not a list address; expected the full posting address '
                             'like reading-group@example.org (letters, digits, - _ . before the @, '
                             'a host name after it)' % (option, address))
    return address.lower()


def read_webservice_config(path):
    """Return the [webservice] settings of a mailman.cfg, as Mailman reads them (mailman_cfg)."""
    return mailman_cfg.section(mailman_cfg.read(path), 'webservice')


def webservice_url(web):
    """The REST base URL Mailman serves for the given [webservice] settings."""
    scheme = 'https' if mailman_cfg.is_true(web['use_https']) else 'http'
    return '%s://%s:%s/3.1' % (scheme, web['hostname'], web['port'])


class _Connection(Connection):
    """mailmanclient's connection with a timeout and module-friendly errors.

    Connection refused, timeouts, 401 and 5xx are failures no module can
    handle better, so they end the module here. Other HTTP errors (400, 404,
    409) mean something to the caller and are re-raised as HTTPError.
    """

    def __init__(self, rest, baseurl, name, password, timeout):
        super().__init__(baseurl, name, password, request_hooks=[self._add_timeout])
        self._rest = rest
        self._timeout = timeout

    def _add_timeout(self, params):
        params['timeout'] = self._timeout
        return params

    def call(self, path, data=None, method=None):
        try:
            return super().call(path, data, method)
        except MailmanConnectionError as exc:
            self._rest.module.fail_json(msg=self._rest.describe_connection_error(exc))
        except HTTPError as exc:
            if exc.code == 401:
                self._rest.module.fail_json(msg=self._rest.describe_auth_error())
            if exc.code >= 500:
                self._rest.module.fail_json(
                    msg='Mailman REST API at %s answered %s %s to %s %s; see %s'
                        % (self._rest.url, exc.code, exc.reason, method or ('POST' if data else 'GET'),
                           path, MAILMAN_LOG))
            raise


class MailmanREST:
    """Resolve the connection options and hand out a mailmanclient Client."""

    def __init__(self, module):
        self.module = module
        if not HAS_MAILMANCLIENT:
            module.fail_json(
                msg='the mailmanclient Python library is missing for %s on the target; '
                    'install python3-mailmanclient (Debian/Ubuntu) or "pip install mailmanclient"'
                    % sys.executable,
                exception=MAILMANCLIENT_IMPORT_ERROR)
        params = module.params
        if not 0 < params['timeout'] <= MAX_TIMEOUT:
            module.fail_json(msg='timeout=%r: give the seconds to wait for each REST request, '
                                 'from 1 to %d' % (params['timeout'], MAX_TIMEOUT))
        self.config_file = params['config_file']
        # Say which setting to fix in a 401 message: the options if given, else the file.
        self.credentials_from_options = bool(params['api_user'] or params['api_password'])
        self.url, self.user, password = self._resolve(params)
        self.timeout = params['timeout']
        self.client = Client(self.url, self.user, password)
        # Replace the client's connection: every object the client returns
        # shares it, so timeout and error handling apply to all requests.
        self.client._connection = _Connection(self, self.url, self.user, password, self.timeout)

    def _resolve(self, params):
        url, user, password = params['api_url'], params['api_user'], params['api_password']
        if url and user and password:
            return url.rstrip('/'), user, password
        path = self.config_file
        try:
            web = read_webservice_config(path)
        except FileNotFoundError:
            self.module.fail_json(
                msg='%s does not exist, so the Mailman REST address and credentials are unknown; '
                    'is mailman3 installed? Otherwise set config_file, or api_url, api_user '
                    'and api_password' % path)
        except PermissionError:
            self.module.fail_json(
                msg='cannot read %s (permission denied); it holds the REST password, '
                    'so run this task with become: true' % path)
        except (OSError, mailman_cfg.Error) as exc:
            self.module.fail_json(msg='cannot parse %s as a Mailman config file: %s' % (path, exc))
        url = url or webservice_url(web)
        return url.rstrip('/'), user or web['admin_user'], password or web['admin_pass']

    def describe_connection_error(self, exc):
        """Turn mailmanclient's connection error into what to check next."""
        parts = urlsplit(self.url)
        where = '%s:%s' % (parts.hostname, parts.port or (443 if parts.scheme == 'https' else 80))
        hint = 'is mailman3 running? see %s' % MAILMAN_LOG
        # mailmanclient flattens the requests exception into a string; the
        # original is still on the exception chain.
        chain, cur = [], exc
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = cur.__cause__ or cur.__context__
        text = ' '.join(repr(e) for e in chain)
        if any(isinstance(e, ConnectionRefusedError) for e in chain) or 'Connection refused' in text:
            return 'nothing listening on %s (connection refused); %s' % (where, hint)
        if 'Timeout' in text or 'timed out' in text:
            return 'no answer from the Mailman REST API at %s within %ss; %s' % (self.url, self.timeout, hint)
        if 'Name or service not known' in text or 'getaddrinfo' in text or 'NameResolution' in text:
            return 'cannot resolve the host of the Mailman REST API URL %s; check api_url or ' \
                   '[webservice] hostname in %s' % (self.url, self.config_file)
        return 'cannot connect to the Mailman REST API at %s (%s); %s' % (self.url, chain[-1], hint)

    def describe_auth_error(self):
        if self.credentials_from_options:
            where = 'the api_user/api_password options'
        else:
            where = '[webservice] admin_user/admin_pass in %s' % self.config_file
        return 'REST credentials rejected by %s (user %r); check %s' % (self.url, self.user, where)

    # Lookups that answer None for "does not exist" so modules stay flat.

    def get_domain(self, mail_host):
        try:
            return self.client.get_domain(mail_host)
        except HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def get_list(self, fqdn_listname):
        try:
            return self.client.get_list(fqdn_listname)
        except HTTPError as exc:
            if exc.code == 404:
                return None
            raise

    def require_list(self, fqdn_listname):
        mlist = self.get_list(fqdn_listname)
        if mlist is None:
            self.module.fail_json(
                msg='mailing list %s does not exist on %s; create it first with '
                    'mailops.mailman.mailman_list' % (fqdn_listname, self.url))
        return mlist

    def pending_requests(self, mlist):
        """Subscription requests still waiting for the subscriber or a moderator."""
        return [
            dict(email=r['email'], display_name=r['display_name'],
                 token_owner=r['token_owner'], request_date=r['request_date'])
            for r in mlist.get_requests()
        ]


def http_error_text(exc):
    """The description Mailman put in an HTTP error (mailmanclient keeps it as reason)."""
    return '%s %s' % (exc.code, exc.reason)
