export default async function (event, ctx) {
  return `${event.x} export default`; // export default
}
