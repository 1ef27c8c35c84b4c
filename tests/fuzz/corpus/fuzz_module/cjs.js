module.exports = (e) => /export default/.test(e) ? "a" : "b";
