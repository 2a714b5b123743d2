export * from './http.js';
export * from './lambda.js';
export * from './s3.js';
