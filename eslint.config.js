import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['.output/', '.output-demo/', '.output-audit/', '.data/', '.wxt/', 'node_modules/', 'test-results/', 'playwright-report/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
      'no-restricted-properties': [
        'error',
        { property: 'innerHTML', message: 'Render customer text as text; build DOM with Preact.' },
        { property: 'outerHTML', message: 'Render customer text as text; build DOM with Preact.' },
      ],
      'no-restricted-syntax': ['error', { selector: "CallExpression[callee.property.name='insertAdjacentHTML']", message: 'No HTML strings.' }],
    },
  },
  {
    files: ['**/*.test.ts', 'tests/**/*.ts', 'server/test-agent.ts', 'bench/**/*.ts'],
    // Playwright fixtures must destructure their (empty) dependencies.
    rules: { '@typescript-eslint/no-explicit-any': 'off', 'no-empty-pattern': 'off' },
  },
);
