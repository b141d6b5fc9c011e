/**
 * React DOM's renderer (200 KB) as a chunk of its own: evaluated in a task of its own, apart from the dashboard's
 * code, rather than as part of one bundle evaluated in one long task.
 */
export const reactDomClient = import('react-dom/client');
