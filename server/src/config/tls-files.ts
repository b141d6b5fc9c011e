import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { settingName, type Config, type SettingName, type TlsFiles } from './config';
import { usesTls, type TargetTls } from './targets';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE and puts their PEM text into every TLS
 * target's `tls`, at start-up: a file that cannot be read, is not PEM, does not parse, has expired, or a key
 * that is not the certificate's, is a problem naming its setting and path — rather than a TLS handshake that
 * fails later with "unknown ca" or a bare ECONNRESET. The only I/O of configuration (`resolveConfig` is pure).
 */
export function applyTlsFiles(
  config: Config,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
  now = Date.now(),
): { ok: true; config: Config } | { ok: false; problems: string[] } {
  const loaded = loadTlsFiles(config.tlsFiles, read, now);
  if (!loaded.ok) return loaded;
  if (!Object.keys(loaded.tls).length) return { ok: true, config };
  const targets = config.targets.map((t) => (usesTls(t) ? { ...t, tls: { ...loaded.tls, ...t.tls } } : t));
  return { ok: true, config: { ...config, targets } };
}

/** The PEM text of the TLS files, each checked (see `applyTlsFiles`). */
export function loadTlsFiles(
  files: TlsFiles,
  read: (path: string) => string,
  now = Date.now(),
): { ok: true; tls: TargetTls } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const tls: TargetTls = {};
  const file = (name: SettingName, path: string | undefined): string | null => {
    if (!path) return null;
    try {
      return read(path);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${settingName(name)}: cannot read ${path} (${e.code ?? e.message})`);
      return null;
    }
  };
  const certificates = (name: SettingName, path: string, pem: string): X509Certificate[] | null => {
    const blocks = pem.match(CERTIFICATE) ?? [];
    if (!blocks.length) {
      problems.push(`${settingName(name)}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      return null;
    }
    const parsed: X509Certificate[] = [];
    for (const [i, block] of blocks.entries()) {
      try {
        parsed.push(new X509Certificate(block));
      } catch (err) {
        problems.push(`${settingName(name)}: certificate ${i + 1} in ${path} does not parse (${(err as Error).message})`);
        return null;
      }
    }
    const expired = parsed.find((c) => Date.parse(c.validTo) < now);
    if (expired) {
      problems.push(`${settingName(name)}: the certificate "${expired.subject.replace(/\n/g, ', ')}" in ${path} expired on ${expired.validTo}`);
      return null;
    }
    return parsed;
  };

  const caPem = file('redisTlsCaFile', files.ca);
  if (caPem !== null && certificates('redisTlsCaFile', files.ca!, caPem)) tls.ca = caPem;

  const certPem = file('redisTlsCertFile', files.cert);
  const keyPem = file('redisTlsKeyFile', files.key);
  const cert = certPem !== null ? certificates('redisTlsCertFile', files.cert!, certPem)?.[0] : undefined;
  let key: KeyObject | undefined;
  if (keyPem !== null) {
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyPem)) {
      problems.push(`${settingName('redisTlsKeyFile')}: ${files.key} is encrypted: lockscope needs the key unencrypted (openssl pkey -in key.pem -out plain.pem)`);
    } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(keyPem)) {
      problems.push(`${settingName('redisTlsKeyFile')}: ${files.key} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
    } else {
      try {
        key = createPrivateKey(keyPem);
      } catch (err) {
        problems.push(`${settingName('redisTlsKeyFile')}: the private key in ${files.key} does not parse (${(err as Error).message})`);
      }
    }
  }
  if (cert && key) {
    if (cert.checkPrivateKey(key)) {
      tls.cert = certPem!;
      tls.key = keyPem!;
    } else {
      problems.push(`${settingName('redisTlsKeyFile')}: the key in ${files.key} is not the private key of the certificate in ${files.cert} (REDIS_TLS_CERT_FILE)`);
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, tls };
}
