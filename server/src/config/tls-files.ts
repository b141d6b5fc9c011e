import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { settingName, type Config, type SettingName, type TlsFiles } from './config';
import { usesTls, type TargetConfig, type TargetTls } from './targets';

const CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads REDIS_TLS_CA_FILE, REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE and puts their PEM text into every TLS
 * target's `tls`, at start-up: a file that cannot be read, is not PEM, does not parse, has expired, or a key
 * that is not the certificate's, is a problem naming its setting and path — rather than a TLS handshake that
 * fails later with "unknown ca" or a bare ECONNRESET. The entry point's only I/O of configuration besides the
 * LOCK_FORMATS file.
 */
export function applyTlsFiles(
  config: Config,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
  now = Date.now(),
): { ok: true; config: Config } | { ok: false; problems: string[] } {
  const loaded = loadTlsFiles(config.tlsFiles, read, now);
  if (!loaded.ok) return loaded;
  return { ok: true, config: { ...config, targets: withTls(config.targets, loaded.tls) } };
}

/** Every TLS target with `tls` as its TLS material, where its own config does not give a part itself. */
export function withTls(targets: TargetConfig[], tls: TargetTls): TargetConfig[] {
  if (!Object.keys(tls).length) return targets;
  return targets.map((t) => (t.kind !== 'client' && usesTls(t) ? { ...t, tls: { ...tls, ...t.tls } } : t));
}

/** Where a piece of TLS material came from, for the problems that name it. */
export interface PemSource {
  text: string;
  /** The setting or option to fix: `REDIS_TLS_CA_FILE (--redis-tls-ca-file)`, `tls.ca`. */
  setting: string;
  /** What holds it: the file's path, or `the PEM text`. */
  source: string;
}

/** The PEM text of the TLS files, each checked (see `applyTlsFiles`). */
export function loadTlsFiles(
  files: TlsFiles,
  read: (path: string) => string,
  now = Date.now(),
): { ok: true; tls: TargetTls } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const file = (name: SettingName, path: string | undefined): PemSource | undefined => {
    if (!path) return undefined;
    try {
      return { text: read(path), setting: settingName(name), source: path };
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      problems.push(`${settingName(name)}: cannot read ${path} (${e.code ?? e.message})`);
      return undefined;
    }
  };
  const checked = checkTls(
    { ca: file('redisTlsCaFile', files.ca), cert: file('redisTlsCertFile', files.cert), key: file('redisTlsKeyFile', files.key) },
    now,
  );
  problems.push(...(checked.ok ? [] : checked.problems));
  return problems.length || !checked.ok ? { ok: false, problems } : checked;
}

/**
 * TLS material checked the way a TLS handshake would need it, whoever gave it (the files, or createLockscope's
 * options): certificates that are PEM, parse and have not expired; an unencrypted private key that is the client
 * certificate's.
 */
export function checkTls(
  pem: { ca?: PemSource; cert?: PemSource; key?: PemSource },
  now = Date.now(),
): { ok: true; tls: TargetTls } | { ok: false; problems: string[] } {
  const problems: string[] = [];
  const tls: TargetTls = {};
  const certificates = ({ text, setting, source }: PemSource): X509Certificate[] | null => {
    const blocks = text.match(CERTIFICATE) ?? [];
    if (!blocks.length) {
      problems.push(`${setting}: ${source} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
      return null;
    }
    const parsed: X509Certificate[] = [];
    for (const [i, block] of blocks.entries()) {
      try {
        parsed.push(new X509Certificate(block));
      } catch (err) {
        problems.push(`${setting}: certificate ${i + 1} in ${source} does not parse (${(err as Error).message})`);
        return null;
      }
    }
    const expired = parsed.find((c) => Date.parse(c.validTo) < now);
    if (expired) {
      problems.push(`${setting}: the certificate "${expired.subject.replace(/\n/g, ', ')}" in ${source} expired on ${expired.validTo}`);
      return null;
    }
    return parsed;
  };

  if (pem.ca && certificates(pem.ca)) tls.ca = pem.ca.text;
  const cert = pem.cert ? certificates(pem.cert)?.[0] : undefined;
  let key: KeyObject | undefined;
  if (pem.key) {
    const { text, setting, source } = pem.key;
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
      problems.push(`${setting}: ${source} is encrypted: lockscope needs the key unencrypted (openssl pkey -in key.pem -out plain.pem)`);
    } else if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
      problems.push(`${setting}: ${source} holds no PEM private key (-----BEGIN PRIVATE KEY-----)`);
    } else {
      try {
        key = createPrivateKey(text);
      } catch (err) {
        problems.push(`${setting}: the private key in ${source} does not parse (${(err as Error).message})`);
      }
    }
  }
  if (cert && key) {
    if (cert.checkPrivateKey(key)) {
      tls.cert = pem.cert!.text;
      tls.key = pem.key!.text;
    } else {
      problems.push(`${pem.key!.setting}: the key in ${pem.key!.source} is not the private key of the certificate in ${pem.cert!.source} (${pem.cert!.setting})`);
    }
  }
  return problems.length ? { ok: false, problems } : { ok: true, tls };
}
