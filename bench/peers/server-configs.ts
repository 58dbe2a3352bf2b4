// Config files for the servers of the peer benchmark, written into the run's temp directory: nothing
// in /etc/nginx or /etc/apache2 is read. All listeners are on 127.0.0.1.
//
// Tuning is the usual benchmark tuning, the same for every server: no access logs, unlimited requests
// per client keep-alive connection (otherwise wrk reconnects every 100 or 1000 requests), and pooled
// keep-alive connections to the upstream.

/** What every upstream answers: 20 bytes, like bench/upstream.mjs. */
export const UPSTREAM_BODY = 'hello from upstream\n';
/** An upstream path that echoes the identity headers it received, to check each proxy really authenticated. */
export const IDENTITY_PATH = '/peers-identity';

const NGINX_TEMP_DIRS = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'] as const;

/** The subdirectories nginx needs under `dir` (its workers run as nobody when the master is root). */
export function nginxTempDirs(dir: string): string[] {
  return NGINX_TEMP_DIRS.map((name) => `${dir}/${name}`);
}

function nginxPreamble(dir: string, workers: number | 'auto'): string {
  const [body, proxy, fastcgi, uwsgi, scgi] = nginxTempDirs(dir);
  return `daemon off;
worker_processes ${workers};
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    client_body_temp_path ${body};
    proxy_temp_path ${proxy};
    fastcgi_temp_path ${fastcgi};
    uwsgi_temp_path ${uwsgi};
    scgi_temp_path ${scgi};
    keepalive_timeout 65;
    keepalive_requests 1000000;
`;
}

/**
 * The upstream app every proxied row uses: one nginx worker answering a fixed body from memory.
 * `underscores_in_headers on` lets it read mod_auth_openidc's OIDC_CLAIM_* headers.
 */
export function nginxUpstreamConfig(dir: string, port: number): string {
  return `${nginxPreamble(dir, 1)}    underscores_in_headers on;

    server {
        listen 127.0.0.1:${port};
        default_type text/plain;

        location / {
            return 200 ${JSON.stringify(UPSTREAM_BODY)};
        }
        location = ${IDENTITY_PATH} {
            return 200 "x-auth-request-user=$http_x_auth_request_user oidc_claim_sub=$http_oidc_claim_sub\\n";
        }
    }
}
`;
}

export interface NginxProxyPorts {
  /** Plain reverse proxy. */
  plain: number;
  /** auth_request to `allow`, then proxy. */
  authRequestFloor: number;
  /** The floor's auth endpoint: 204 and a user header, no session check at all. */
  allow: number;
  /** auth_request to Portcullis' {prefix}/auth, then proxy (ingress-nginx style). */
  portcullis: number;
}

export interface NginxProxyOptions {
  dir: string;
  ports: NginxProxyPorts;
  upstreamPort: number;
  /** The gateway that answers the auth subrequests. */
  gatewayPort: number;
  /** Where a browser without a session signs in: the gateway's public origin, e.g. http://localhost:PORT. */
  gatewayPublicUrl: string;
  prefix: string;
}

/** Identity headers the gateway answers /auth with, and nginx copies to the upstream (docs/kubernetes.md). */
const PORTCULLIS_AUTH_HEADERS = [
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Name',
  'X-Portcullis-Assertion',
] as const;

const variableOf = (header: string): string => header.toLowerCase().replaceAll('-', '_');

// Repeated in every location on purpose: a location that sets any proxy_set_header inherits none.
const PROXY_TO_APP = `proxy_pass http://peers_app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $remote_addr;`;

export function nginxProxyConfig(options: NginxProxyOptions): string {
  const { dir, ports } = options;
  const captured = PORTCULLIS_AUTH_HEADERS.map(
    (header) => `auth_request_set $pc_${variableOf(header)} $upstream_http_${variableOf(header)};`,
  ).join('\n            ');
  const copied = PORTCULLIS_AUTH_HEADERS.map(
    (header) => `proxy_set_header ${header} $pc_${variableOf(header)};`,
  ).join('\n            ');
  return `${nginxPreamble(dir, 'auto')}
    upstream peers_app {
        server 127.0.0.1:${options.upstreamPort};
        keepalive 64;
        keepalive_requests 1000000;
    }
    upstream peers_allow {
        server 127.0.0.1:${ports.allow};
        keepalive 64;
        keepalive_requests 1000000;
    }
    upstream portcullis {
        server 127.0.0.1:${options.gatewayPort};
        keepalive 64;
        keepalive_requests 1000000;
    }

    # Plain reverse proxy: the no-auth floor.
    server {
        listen 127.0.0.1:${ports.plain};
        location / {
            ${PROXY_TO_APP}
        }
    }

    # auth_request to a bare 204: the forward-auth floor.
    server {
        listen 127.0.0.1:${ports.authRequestFloor};
        location / {
            auth_request /_peers_allow;
            auth_request_set $peers_user $upstream_http_x_auth_request_user;
            ${PROXY_TO_APP}
            proxy_set_header X-Auth-Request-User $peers_user;
        }
        location = /_peers_allow {
            internal;
            proxy_pass http://peers_allow/allow;
            proxy_pass_request_body off;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $host;
            proxy_set_header X-Original-URI $request_uri;
        }
    }
    server {
        listen 127.0.0.1:${ports.allow};
        location = /allow {
            add_header X-Auth-Request-User alice;
            return 204;
        }
        location / {
            return 404;
        }
    }

    # auth_request to Portcullis ${options.prefix}/auth, as ingress-nginx's auth-url does it. The
    # subrequest carries the client's headers, so the session cookie reaches the gateway.
    server {
        listen 127.0.0.1:${ports.portcullis};
        location / {
            auth_request /_portcullis_auth;
            ${captured}
            error_page 401 = @portcullis_signin;
            ${PROXY_TO_APP}
            ${copied}
        }
        location = /_portcullis_auth {
            internal;
            proxy_pass http://portcullis${options.prefix}/auth;
            proxy_pass_request_body off;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Original-URL $scheme://$http_host$request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
        }
        location @portcullis_signin {
            return 302 ${options.gatewayPublicUrl}${options.prefix}/login?rd=$scheme://$http_host$request_uri;
        }
    }
}
`;
}

export interface ApachePorts {
  /** mod_auth_openidc with its shared-memory cache (the module's default). */
  oidcShm: number;
  /** mod_auth_openidc with the Redis cache. */
  oidcRedis: number;
  /** Plain reverse proxy: Apache's own floor. */
  plain: number;
}

export interface ApacheOptions {
  dir: string;
  modulesDir: string;
  ports: ApachePorts;
  upstreamUrl: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  cryptoPassphrase: string;
  redisAddress: string;
  /** Set when started as root: the children drop to this user and group. */
  runAs: { user: string; group: string } | null;
}

export const APACHE_MODULES = [
  ['mpm_event_module', 'mod_mpm_event.so'],
  ['authn_core_module', 'mod_authn_core.so'],
  ['authz_core_module', 'mod_authz_core.so'],
  ['authz_user_module', 'mod_authz_user.so'],
  ['proxy_module', 'mod_proxy.so'],
  ['proxy_http_module', 'mod_proxy_http.so'],
  ['auth_openidc_module', 'mod_auth_openidc.so'],
] as const;

/** The callback path mod_auth_openidc owns on each OIDC virtual host. */
export const APACHE_REDIRECT_PATH = '/redirect_uri';

function oidcVirtualHost(port: number, cache: string, upstreamUrl: string): string {
  return `<VirtualHost 127.0.0.1:${port}>
    OIDCRedirectURI http://127.0.0.1:${port}${APACHE_REDIRECT_PATH}
    ${cache}
    <Location />
        AuthType openid-connect
        Require valid-user
    </Location>
    ProxyPass        ${APACHE_REDIRECT_PATH} !
    ProxyPass        / ${upstreamUrl}/
    ProxyPassReverse / ${upstreamUrl}/
</VirtualHost>`;
}

/** A complete httpd.conf: event MPM, mod_proxy_http, mod_auth_openidc; started with -d <dir> -f <file>. */
export function apacheConfig(options: ApacheOptions): string {
  const { dir, ports } = options;
  const modules = APACHE_MODULES.map(
    ([name, file]) => `LoadModule ${name} ${options.modulesDir}/${file}`,
  ).join('\n');
  const runAs = options.runAs === null ? '' : `User ${options.runAs.user}\nGroup ${options.runAs.group}\n`;
  return `ServerRoot ${dir}
ServerName 127.0.0.1
PidFile ${dir}/httpd.pid
DefaultRuntimeDir ${dir}/run
Mutex file:${dir}/run default
ErrorLog ${dir}/error.log
LogLevel warn

${modules}

${runAs}
# Every thread started up front (4 processes x 64), so no process is forked during a measurement.
StartServers            4
ServerLimit             4
ThreadLimit             64
ThreadsPerChild         64
MaxRequestWorkers       256
MinSpareThreads         64
MaxSpareThreads         256
MaxConnectionsPerChild  0

KeepAlive On
KeepAliveTimeout 65
MaxKeepAliveRequests 0

Listen 127.0.0.1:${ports.oidcShm}
Listen 127.0.0.1:${ports.oidcRedis}
Listen 127.0.0.1:${ports.plain}

<Directory />
    AllowOverride None
    Require all denied
</Directory>

# mod_auth_openidc, the same for both OIDC hosts: defaults except PKCE S256 (the local IdP requires
# it), claims passed as OIDC_CLAIM_* request headers, an 8 h session with a 1 h inactivity timeout.
OIDCProviderMetadataURL      ${options.issuer}/.well-known/openid-configuration
OIDCClientID                 ${options.clientId}
OIDCClientSecret             ${options.clientSecret}
OIDCProviderTokenEndpointAuth client_secret_basic
OIDCCryptoPassphrase         ${options.cryptoPassphrase}
OIDCScope                    "openid email profile groups"
OIDCPKCEMethod               S256
OIDCPassClaimsAs             headers
OIDCSessionInactivityTimeout 3600
OIDCSessionMaxDuration       28800

${oidcVirtualHost(ports.oidcShm, 'OIDCCacheType shm', options.upstreamUrl)}

${oidcVirtualHost(ports.oidcRedis, `OIDCCacheType redis\n    OIDCRedisCacheServer ${options.redisAddress}`, options.upstreamUrl)}

<VirtualHost 127.0.0.1:${ports.plain}>
    <Location />
        Require all granted
    </Location>
    ProxyPass        / ${options.upstreamUrl}/
    ProxyPassReverse / ${options.upstreamUrl}/
</VirtualHost>
`;
}
