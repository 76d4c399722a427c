/** `orewatch user add` / `orewatch user list`: triage users, their roles and jurisdictions. */
import type { Command } from 'commander';
import { checkUserSpec, createUser, MIN_PASSWORD_LENGTH } from '../../api/users.js';
import { inputError } from '../../errors/index.js';
import { openDatabase } from '../../pipeline/store/database.js';
import { migrate } from '../../pipeline/store/migrations.js';
import { formatTable } from '../format.js';

function openStore(dataDir: string) {
  return openDatabase({ dataDir, databaseUrl: process.env.DATABASE_URL || undefined, schema: process.env.OREWATCH_DB_SCHEMA || undefined });
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is what `echo` adds; the password is the rest, spaces included.
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** Reads a line from the terminal without echoing it. */
function askHidden(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    stdin.setEncoding('utf8');
    let value = '';
    const done = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error) reject(error); else resolve(value);
    };
    const onData = (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(inputError('USER.CANCELLED', 'cancelled'));
        if (ch === '\u007f' || ch === '\b') value = [...value].slice(0, -1).join('');
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export function registerUser(program: Command): void {
  const user = program.command('user').description('triage users: analysts, supervisors, county and province staff, admins');
  user
    .command('add')
    .description('create a user; the password is asked for (twice), or read from standard input with --password-stdin')
    .requiredOption('--username <name>', 'login name (letters, digits, . _ -)')
    .requiredOption('--role <role>', 'analyst | supervisor | county | province | admin')
    .option('--jurisdiction <code>', '6-digit division code: one county for county, one province for province; analysts and supervisors may repeat it (none: every alert)',
      (value: string, previous: string[] = []) => [...previous, value])
    .option('--language <lang>', 'interface language: zh-CN or en', 'zh-CN')
    .option('--password-stdin', 'read the password from standard input')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .action(async (flags: { username: string; role: string; jurisdiction?: string[]; language: string; passwordStdin?: boolean; dataDir: string }) => {
      if (flags.language !== 'zh-CN' && flags.language !== 'en') throw inputError('USER.BAD_LANGUAGE', `Expected zh-CN or en for --language but received "${flags.language}"`);
      // Refuse a bad role or jurisdiction before asking for a password or opening the store.
      checkUserSpec({ username: flags.username, role: flags.role, jurisdictions: flags.jurisdiction ?? [] });
      let password: string;
      if (flags.passwordStdin) {
        password = await readStdin();
      } else {
        if (!process.stdin.isTTY) throw inputError('USER.NO_PASSWORD', 'No terminal to ask for the password: pipe it in with --password-stdin');
        password = await askHidden(`Password for ${flags.username}: `);
        const again = await askHidden('Again: ');
        if (again !== password) throw inputError('USER.PASSWORD_MISMATCH', 'The two passwords differ; nothing was stored');
      }
      if ([...password].length < MIN_PASSWORD_LENGTH) throw inputError('USER.WEAK_PASSWORD', `The password needs at least ${MIN_PASSWORD_LENGTH} characters`);
      const db = await openStore(flags.dataDir);
      try {
        await migrate(db);
        await createUser(db, { username: flags.username, role: flags.role, jurisdictions: flags.jurisdiction ?? [], password, language: flags.language });
        const known = flags.jurisdiction?.length ? (await db.query<{ code: string }>(
          `SELECT DISTINCT f.properties->>'code' AS code FROM layer_features f JOIN layers l ON l.layer_id = f.layer_id
            WHERE l.kind = 'jurisdictions' AND f.properties->>'code' = ANY($1)`, [flags.jurisdiction])).rows.map((r) => r.code) : [];
        const missing = (flags.jurisdiction ?? []).filter((c) => !known.includes(c));
        process.stdout.write(`added user ${flags.username} (${flags.role}${flags.jurisdiction?.length ? `, ${flags.jurisdiction.join(', ')}` : ''}) to ${db.location}\n`);
        if (missing.length > 0) process.stderr.write(`note: no imported jurisdictions layer names ${missing.join(', ')} yet (orewatch import jurisdictions FILE)\n`);
      } finally {
        await db.close();
      }
    });
  user
    .command('list')
    .description('list users with their roles and jurisdictions')
    .option('--data-dir <dir>', 'embedded store directory (ignored when DATABASE_URL is set)', '.orewatch')
    .action(async (flags: { dataDir: string }) => {
      const db = await openStore(flags.dataDir);
      try {
        await migrate(db);
        const { rows } = await db.query<{ username: string; role: string; codes: string | null; language: string; created_at: string }>(
          `SELECT u.username, u.role, u.language, u.created_at::text AS created_at,
             (SELECT string_agg(code, ',' ORDER BY code) FROM user_jurisdictions j WHERE j.user_id = u.user_id) AS codes
             FROM users u ORDER BY u.username`);
        process.stdout.write(`${formatTable(['user', 'role', 'jurisdiction', 'language', 'created'], rows.map((r) => [r.username, r.role, r.codes ?? (r.role === 'admin' || r.role === 'analyst' || r.role === 'supervisor' ? 'all' : '-'), r.language, r.created_at.slice(0, 19)]))}\n`);
      } finally {
        await db.close();
      }
    });
}
