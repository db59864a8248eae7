// The identity providers the Connections page offers, with the setup steps the README gives.
// `suffix` is appended to the base URL where the provider needs it.
export const PROVIDERS = [
  {
    id: 'entra',
    label: 'Microsoft Entra ID',
    suffix: '?aadOptscim062020',
    steps: [
      'Entra admin center → Enterprise applications → New application → Create your own application → "Integrate any other application you don\'t find in the gallery".',
      'Provisioning → Provisioning mode Automatic. Tenant URL: the base URL below (it ends in ?aadOptscim062020, which makes Entra send RFC-compliant PATCH requests). Secret Token: the token below.',
      'Test Connection, then Mappings, then Start provisioning.',
    ],
  },
  {
    id: 'okta',
    label: 'Okta',
    suffix: '',
    steps: [
      'Applications → Browse App Catalog → SCIM 2.0 Test App (OAuth Bearer Token) → Add.',
      'Provisioning → Configure API Integration → Enable. SCIM 2.0 Base Url: the base URL; OAuth Bearer Token: the token. Test API Credentials.',
      'To App → enable Create Users, Update User Attributes, Deactivate Users. Groups arrive with Push Groups.',
    ],
  },
  {
    id: 'onelogin',
    label: 'OneLogin',
    suffix: '',
    steps: ['Use the SCIM Provisioner with SAML 2.0 app: SCIM Base URL and SCIM Bearer Token.'],
  },
  {
    id: 'google',
    label: 'Google Workspace',
    suffix: '',
    steps: ['Custom SAML app → auto-provisioning: Endpoint URL and Access token.'],
  },
  {
    id: 'jumpcloud',
    label: 'JumpCloud',
    suffix: '',
    steps: [
      'Custom SAML app → Identity Management tab: base URL and token. Its Test Connection creates and deletes a real test user.',
    ],
  },
  {
    id: 'pingone',
    label: 'PingOne',
    suffix: '',
    steps: ['SCIM connector with bearer authentication: base URL and token.'],
  },
  {
    id: 'keycloak',
    label: 'Keycloak',
    suffix: '',
    steps: ['In the SCIM plug-in of your choice: the base URL and the token.'],
  },
  {
    id: 'other',
    label: 'Other SCIM 2.0 client',
    suffix: '',
    steps: ['Give the client the base URL and the bearer token.'],
  },
];
